-- CreateTable
CREATE TABLE "agent_sip_accounts" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "agent_id" TEXT NOT NULL,
    "username" TEXT NOT NULL,
    "password" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_sip_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "agent_sip_accounts_project_id_agent_id_key" ON "agent_sip_accounts"("project_id", "agent_id");

-- CreateIndex
CREATE UNIQUE INDEX "agent_sip_accounts_project_id_username_key" ON "agent_sip_accounts"("project_id", "username");

-- AddForeignKey
ALTER TABLE "agent_sip_accounts" ADD CONSTRAINT "agent_sip_accounts_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
