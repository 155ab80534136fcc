-- AlterTable
ALTER TABLE "dialer_attempts" ADD COLUMN     "claim_key" TEXT;

-- CreateIndex
CREATE INDEX "dialer_attempts_campaign_id_claim_key_idx" ON "dialer_attempts"("campaign_id", "claim_key");
