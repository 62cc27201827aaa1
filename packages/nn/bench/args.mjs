/** The bench scripts' command line: `--name value` numbers and `--name` switches. */
const args = process.argv.slice(2);

/** The number after `--name`, or `fallback` when the option is absent. */
export function option(name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

/** Whether `--name` was given. */
export const flag = (name) => args.includes(`--${name}`);
