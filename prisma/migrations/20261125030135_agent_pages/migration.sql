-- CreateTable
CREATE TABLE "agent_scripts" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "definition" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_scripts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agent_page_links" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "agent" TEXT NOT NULL,
    "contact_phone" TEXT NOT NULL,
    "script_name" TEXT NOT NULL,
    "call_id" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_page_links_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "agent_scripts_project_id_name_key" ON "agent_scripts"("project_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "agent_page_links_token_hash_key" ON "agent_page_links"("token_hash");

-- CreateIndex
CREATE INDEX "agent_page_links_expires_at_idx" ON "agent_page_links"("expires_at");

-- AddForeignKey
ALTER TABLE "agent_scripts" ADD CONSTRAINT "agent_scripts_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_page_links" ADD CONSTRAINT "agent_page_links_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
