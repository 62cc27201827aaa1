/** Every input problem is reported as a DataError that names the offending file (or folder) and the problem, so a
 * bad file among 8,000 can be found without a debugger. */
export class DataError extends Error {
  readonly file: string;
  readonly problem: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'DataError';
    this.file = file;
    this.problem = problem;
  }
}

/** Non-fatal findings (e.g. a mask binarised) go to this callback; the default prints to stderr. */
export type WarningSink = (message: string) => void;

export const defaultWarningSink: WarningSink = (message) => {
  process.emitWarning(message, 'MrisegDataWarning');
};
