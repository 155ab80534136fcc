-- CreateEnum
CREATE TYPE "CallbackState" AS ENUM ('scheduled', 'waiting_owner', 'waiting_queue', 'dialing', 'done', 'failed', 'cancelled');

-- AlterTable
ALTER TABLE "dialer_tasks" ADD COLUMN     "attempt_id" UUID,
ADD COLUMN     "failure_reason" TEXT,
ADD COLUMN     "lease_until" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "callbacks" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "phone" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "agent" TEXT,
    "queue" TEXT NOT NULL,
    "caller_id" TEXT NOT NULL,
    "note" TEXT,
    "owner_window_seconds" INTEGER NOT NULL DEFAULT 300,
    "state" "CallbackState" NOT NULL DEFAULT 'scheduled',
    "handled_by" TEXT,
    "outcome" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "callbacks_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "callbacks_project_id_state_at_idx" ON "callbacks"("project_id", "state", "at");

-- CreateIndex
CREATE UNIQUE INDEX "callbacks_project_id_phone_at_key" ON "callbacks"("project_id", "phone", "at");

-- AddForeignKey
ALTER TABLE "callbacks" ADD CONSTRAINT "callbacks_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
