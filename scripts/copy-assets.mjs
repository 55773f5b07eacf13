// tsc copies no files but .ts: the assets the built code reads at run time (the Hyper-V
// driver's PowerShell scripts) are copied to the same place under dist.
import { cpSync } from 'node:fs';

const ASSETS = ['libs/drivers/src/hyperv/scripts'];

for (const dir of ASSETS) cpSync(dir, `dist/${dir}`, { recursive: true });
