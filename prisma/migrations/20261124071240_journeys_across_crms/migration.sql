-- CreateEnum
CREATE TYPE "conflict_status" AS ENUM ('open', 'resolved');

-- AlterTable
ALTER TABLE "projects" ADD COLUMN     "reconciliation" JSONB NOT NULL DEFAULT '{}';

-- CreateTable
CREATE TABLE "contact_links" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "contact_phone" TEXT NOT NULL,
    "connector_instance_id" UUID NOT NULL,
    "external_id" TEXT NOT NULL,
    "ambiguous" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "contact_links_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "conflicts" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "contact_phone" TEXT NOT NULL,
    "field" TEXT NOT NULL,
    "candidates" JSONB NOT NULL,
    "rule" TEXT NOT NULL,
    "chosen_value" JSONB,
    "chosen_source" TEXT,
    "status" "conflict_status" NOT NULL DEFAULT 'open',
    "resolved_by" TEXT,
    "resolution" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(3),

    CONSTRAINT "conflicts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_events" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "connector_instance_id" UUID NOT NULL,
    "event_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "external_id" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "contact_links_project_id_contact_phone_idx" ON "contact_links"("project_id", "contact_phone");

-- CreateIndex
CREATE UNIQUE INDEX "contact_links_project_id_connector_instance_id_external_id_key" ON "contact_links"("project_id", "connector_instance_id", "external_id");

-- CreateIndex
CREATE INDEX "conflicts_project_id_status_created_at_idx" ON "conflicts"("project_id", "status", "created_at");

-- CreateIndex
CREATE INDEX "conflicts_project_id_contact_phone_idx" ON "conflicts"("project_id", "contact_phone");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_events_connector_instance_id_event_id_key" ON "webhook_events"("connector_instance_id", "event_id");

-- AddForeignKey
ALTER TABLE "contact_links" ADD CONSTRAINT "contact_links_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conflicts" ADD CONSTRAINT "conflicts_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_events" ADD CONSTRAINT "webhook_events_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
