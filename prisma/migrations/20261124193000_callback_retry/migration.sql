-- AlterTable
ALTER TABLE "callbacks" ADD COLUMN     "retry_after_seconds" INTEGER,
ADD COLUMN     "retry_max_attempts" INTEGER;
