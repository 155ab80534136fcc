-- AlterTable
ALTER TABLE "agent_page_links" ADD COLUMN     "callback" JSONB;
