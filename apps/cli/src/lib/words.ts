/** "1 patient", "3 patients": counts in messages read as English. */
export function plural(n: number, noun: string, pluralForm = `${noun}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? noun : pluralForm}`;
}
