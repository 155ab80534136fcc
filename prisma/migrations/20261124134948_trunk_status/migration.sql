-- CreateTable
CREATE TABLE "trunk_status" (
    "project_id" UUID NOT NULL,
    "trunk_name" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "since" TIMESTAMPTZ(3) NOT NULL,
    "last_failure" TEXT,
    "registration" JSONB,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trunk_status_pkey" PRIMARY KEY ("project_id","trunk_name")
);

-- AddForeignKey
ALTER TABLE "trunk_status" ADD CONSTRAINT "trunk_status_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
