-- CreateTable
CREATE TABLE "dialer_attempts" (
    "id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "phone" TEXT NOT NULL,
    "launched_at" TIMESTAMPTZ(3) NOT NULL,
    "ended_at" TIMESTAMPTZ(3),
    "outcome" TEXT,
    "agent_id" TEXT,

    CONSTRAINT "dialer_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "dialer_attempts_campaign_id_launched_at_idx" ON "dialer_attempts"("campaign_id", "launched_at");

-- AddForeignKey
ALTER TABLE "dialer_attempts" ADD CONSTRAINT "dialer_attempts_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE CASCADE;
