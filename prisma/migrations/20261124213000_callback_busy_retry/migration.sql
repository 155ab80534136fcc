-- AlterTable
ALTER TABLE "callbacks" ADD COLUMN     "retry_after_busy_seconds" INTEGER;
