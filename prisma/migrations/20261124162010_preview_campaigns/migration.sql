-- AlterEnum
ALTER TYPE "DialerTaskState" ADD VALUE 'previewing';

-- AlterTable
ALTER TABLE "dialer_tasks" ADD COLUMN     "preview_agent" TEXT,
ADD COLUMN     "preview_until" TIMESTAMPTZ(3);
