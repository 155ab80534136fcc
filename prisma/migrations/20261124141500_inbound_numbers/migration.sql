-- AlterEnum
ALTER TYPE "call_flow_kind" ADD VALUE 'inbound';
