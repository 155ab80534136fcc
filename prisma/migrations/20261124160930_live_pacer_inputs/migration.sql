-- AlterTable
ALTER TABLE "campaigns" ADD COLUMN     "figures" JSONB,
ADD COLUMN     "figures_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "dialer_attempts" ADD COLUMN     "answered_at" TIMESTAMPTZ(3);
