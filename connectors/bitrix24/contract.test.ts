// Contract of the bitrix24 connector against its sandbox: npm run connector:test bitrix24
import { runConnectorContract } from '../testkit/contract.js';
import { makeBitrix24Harness } from './contract-harness.js';

runConnectorContract('bitrix24', makeBitrix24Harness);
