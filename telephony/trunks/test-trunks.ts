// Trunk configs shared by the trunk, ACD and transfer tests.
import { trunkConfigSchema, type TrunkConfig, type TrunkConfigInput } from './config.js';

export function trunk(input: Partial<TrunkConfigInput> & Pick<TrunkConfigInput, 'name'>): TrunkConfig {
  return trunkConfigSchema.parse({
    kind: 'carrier',
    host: `${input.name}.example:5060`,
    auth: { mode: 'ip' },
    routes: [{ prefix: '', pricePerMinute: '0.02' }],
    ...input,
  });
}
