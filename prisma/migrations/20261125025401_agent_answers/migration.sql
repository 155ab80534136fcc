-- CreateTable
CREATE TABLE "agent_answers" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "contact_phone" TEXT NOT NULL,
    "field" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "agent" TEXT NOT NULL,
    "call_id" TEXT,
    "answered_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_answers_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "agent_answers_project_id_contact_phone_field_answered_at_idx" ON "agent_answers"("project_id", "contact_phone", "field", "answered_at");

-- AddForeignKey
ALTER TABLE "agent_answers" ADD CONSTRAINT "agent_answers_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
