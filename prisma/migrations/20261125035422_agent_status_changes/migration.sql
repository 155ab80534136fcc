-- CreateTable
CREATE TABLE "agent_status_changes" (
    "id" BIGSERIAL NOT NULL,
    "project_id" UUID NOT NULL,
    "agent_id" TEXT NOT NULL,
    "from_status" TEXT NOT NULL,
    "to_status" TEXT NOT NULL,
    "reason" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "agent_status_changes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "agent_status_changes_project_id_at_idx" ON "agent_status_changes"("project_id", "at");

-- CreateIndex
CREATE INDEX "agent_status_changes_project_id_agent_id_at_idx" ON "agent_status_changes"("project_id", "agent_id", "at");

-- AddForeignKey
ALTER TABLE "agent_status_changes" ADD CONSTRAINT "agent_status_changes_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
