// The reports of a finished Brevo import: `GET /v3/processes/{id}` names, under `info.import`, a
// CSV file for each kind of record Brevo did not import as sent (`invalid_emails`,
// `duplicate_email_id`, `duplicate_phone_id`, `duplicate_ext_id`, ...). Every report is read and
// each row naming one of the chunk's emails becomes a reject with that report's reason. The
// files' columns are not documented: the email is the column named like one, else the first cell
// that holds an `@`.

/** What each report documented in Brevo's API (and its Node SDK's `GetProcessResponse`) means for a record. */
const REPORT_REASONS: Readonly<Record<string, string>> = {
  invalid_emails: 'Brevo rejected the email address as invalid',
  duplicate_email_id: 'Brevo did not import the contact: its email appears more than once in the import',
  duplicate_phone_id: 'Brevo did not import the contact: its SMS number belongs to another contact',
  duplicate_whatsapp_id: 'Brevo did not import the contact: its WhatsApp number belongs to another contact',
  duplicate_landline_number_id: 'Brevo did not import the contact: its landline number belongs to another contact',
  duplicate_ext_id: 'Brevo did not import the contact: its external id belongs to another contact',
  duplicate_contact_id: 'Brevo did not import the contact: its contact id appears more than once',
};

/** A report Brevo may add later is still read, with a reason that names it. */
export function reportReason(kind: string): string {
  return REPORT_REASONS[kind] ?? `Brevo did not import the contact (report '${kind}')`;
}

/** The reports a process names, in a stable order (`invalid_emails` first), as `[kind, url]`. */
export function reportUrls(info: Record<string, unknown> | undefined): Array<[string, string]> {
  if (!info) return [];
  const known = Object.keys(REPORT_REASONS);
  const kinds = Object.keys(info).sort((a, b) => rank(known, a) - rank(known, b) || a.localeCompare(b));
  const urls: Array<[string, string]> = [];
  for (const kind of kinds) {
    const url = info[kind];
    if (typeof url === 'string' && /^https?:\/\//i.test(url)) urls.push([kind, url]);
  }
  return urls;
}

function rank(known: readonly string[], kind: string): number {
  const index = known.indexOf(kind);
  return index < 0 ? known.length : index;
}

/** The emails of a report: one row per record after a header line. */
export function parseReportEmails(text: string): string[] {
  const rows = text.split(/\r?\n/).filter((line) => line.trim() !== '').map(splitRow);
  if (rows.length === 0) return [];
  const header = rows[0]!;
  const named = header.findIndex((cell) => /^e-?mail(_?address)?$/i.test(cell));
  const body = header.some((cell) => cell.includes('@')) ? rows : rows.slice(1);
  const emails: string[] = [];
  for (const row of body) {
    const cell = named >= 0 ? row[named] : row.find((value) => value.includes('@'));
    if (cell !== undefined && cell.includes('@')) emails.push(cell);
  }
  return emails;
}

function splitRow(line: string): string[] {
  return line.split(/[,;]/).map((cell) => cell.trim().replace(/^"(.*)"$/, '$1').trim());
}
