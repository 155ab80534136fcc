-- CreateTable
CREATE TABLE "connector_pollers" (
    "connector_instance_id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "interval_seconds" INTEGER NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "cursor" TEXT,
    "start_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_polled_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "changes_stored" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "connector_pollers_pkey" PRIMARY KEY ("connector_instance_id")
);

-- CreateTable
CREATE TABLE "polled_records" (
    "connector_instance_id" UUID NOT NULL,
    "external_id" TEXT NOT NULL,
    "modified_marker" TEXT NOT NULL,
    "field_hashes" JSONB NOT NULL,
    "seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "polled_records_pkey" PRIMARY KEY ("connector_instance_id","external_id")
);

-- AddForeignKey
ALTER TABLE "connector_pollers" ADD CONSTRAINT "connector_pollers_connector_instance_id_fkey" FOREIGN KEY ("connector_instance_id") REFERENCES "connector_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "polled_records" ADD CONSTRAINT "polled_records_connector_instance_id_fkey" FOREIGN KEY ("connector_instance_id") REFERENCES "connector_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;
