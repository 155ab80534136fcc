-- CreateEnum
CREATE TYPE "trunk_kind" AS ENUM ('carrier', 'pbx');

-- CreateEnum
CREATE TYPE "call_flow_kind" AS ENUM ('queue', 'ivr');

-- CreateTable
CREATE TABLE "trunks" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "trunk_kind" NOT NULL,
    "config" JSONB NOT NULL,
    "password" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trunks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "call_flows" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "kind" "call_flow_kind" NOT NULL,
    "name" TEXT NOT NULL,
    "definition" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "call_flows_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "call_detail_records" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "call_id" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "direction" TEXT NOT NULL,
    "trunk_name" TEXT NOT NULL,
    "route_prefix" TEXT NOT NULL,
    "sip_call_id" TEXT,
    "from_number" TEXT NOT NULL,
    "to_number" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "sip_status" INTEGER,
    "reason" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "answered_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "billable_seconds" INTEGER NOT NULL,
    "billing_increment" TEXT NOT NULL,
    "price_per_minute" DECIMAL(14,6) NOT NULL,
    "cost" DECIMAL(14,6) NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "call_detail_records_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "trunks_project_id_name_key" ON "trunks"("project_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "call_flows_project_id_kind_name_key" ON "call_flows"("project_id", "kind", "name");

-- CreateIndex
CREATE INDEX "call_detail_records_project_id_started_at_idx" ON "call_detail_records"("project_id", "started_at");

-- CreateIndex
CREATE UNIQUE INDEX "call_detail_records_call_id_attempt_key" ON "call_detail_records"("call_id", "attempt");

-- AddForeignKey
ALTER TABLE "trunks" ADD CONSTRAINT "trunks_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "call_flows" ADD CONSTRAINT "call_flows_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "call_detail_records" ADD CONSTRAINT "call_detail_records_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
