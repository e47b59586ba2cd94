import { gpumonProgram } from './program.ts';

await gpumonProgram().parseAsync(process.argv);
