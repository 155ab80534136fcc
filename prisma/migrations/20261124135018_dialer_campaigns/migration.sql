-- CreateEnum
CREATE TYPE "CampaignState" AS ENUM ('active', 'paused', 'stopped');

-- CreateEnum
CREATE TYPE "DialerTaskState" AS ENUM ('pending', 'dialing', 'done', 'failed', 'removed');

-- CreateTable
CREATE TABLE "campaigns" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "state" "CampaignState" NOT NULL DEFAULT 'paused',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "campaigns_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dialer_tasks" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "external_id" TEXT NOT NULL,
    "phones" TEXT[],
    "name" TEXT,
    "fields" JSONB NOT NULL DEFAULT '{}',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "time_zones" TEXT[],
    "state" "DialerTaskState" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_attempt_at" TIMESTAMPTZ(3),
    "last_outcome" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dialer_tasks_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "campaigns_project_id_name_key" ON "campaigns"("project_id", "name");

-- CreateIndex
CREATE INDEX "dialer_tasks_campaign_id_state_next_attempt_at_idx" ON "dialer_tasks"("campaign_id", "state", "next_attempt_at");

-- CreateIndex
CREATE INDEX "dialer_tasks_campaign_id_created_at_id_idx" ON "dialer_tasks"("campaign_id", "created_at", "id");

-- CreateIndex
CREATE UNIQUE INDEX "dialer_tasks_campaign_id_external_id_key" ON "dialer_tasks"("campaign_id", "external_id");

-- AddForeignKey
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dialer_tasks" ADD CONSTRAINT "dialer_tasks_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dialer_tasks" ADD CONSTRAINT "dialer_tasks_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE CASCADE;
