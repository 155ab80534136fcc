-- AlterTable
ALTER TABLE "connector_instances" ADD COLUMN     "limits" JSONB,
ADD COLUMN     "secrets" TEXT,
ADD COLUMN     "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
