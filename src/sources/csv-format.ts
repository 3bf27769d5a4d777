// The CSV format of a CDM partition, from model.json's `fileFormatSettings` or a manifest's
// `is.partition.format.CSV` trait, with the CDM defaults where a setting is absent: no header row,
// comma, `QuoteStyle.Csv`, UTF-8. What the parser cannot read (`QuoteStyle.None`, another
// encoding, a delimiter of several characters) is refused with the setting's name.
import { z } from 'zod';
import { type AppError, Errors, withDetails } from '../errors';

/** The settings as either form states them (booleans may be the strings "true"/"false" in a manifest). */
export const csvSettingsSchema = z.looseObject({
  $type: z.string().optional(),
  columnHeaders: z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False'])]).optional(),
  delimiter: z.string().optional(),
  quoteStyle: z.string().optional(),
  csvStyle: z.string().optional(),
  encoding: z.string().optional(),
});
export type CsvSettings = z.infer<typeof csvSettingsSchema>;

export interface CsvFormat {
  /** Each partition starts with a header row naming the attributes. */
  headerRow: boolean;
  delimiter: string;
}

const CSV_STYLES = ['csvstyle.quotealways', 'csvstyle.quoteafterdelimiter'];
const UTF8 = ['utf-8', 'utf8', '65001'];

/** The format of one partition; `where` names it in the error. */
export function csvFormatOf(settings: CsvSettings | undefined, where: string): CsvFormat {
  const unsupported = (reason: string): AppError => withDetails(Errors.sourceFormatUnsupported(where, reason), { path: where });
  if (settings?.$type !== undefined && settings.$type !== 'CsvFormatSettings') {
    throw unsupported(`fileFormatSettings.$type is '${settings.$type}'; only CsvFormatSettings is read`);
  }
  const delimiter = settings?.delimiter ?? ',';
  if (delimiter.length !== 1 || '"\r\n'.includes(delimiter)) throw unsupported(`the delimiter ${JSON.stringify(delimiter)} is not one character`);
  const quoteStyle = settings?.quoteStyle ?? 'QuoteStyle.Csv';
  if (quoteStyle.toLowerCase() !== 'quotestyle.csv') throw unsupported(`quoteStyle '${quoteStyle}' is not read, only QuoteStyle.Csv`);
  if (settings?.csvStyle !== undefined && !CSV_STYLES.includes(settings.csvStyle.toLowerCase())) {
    throw unsupported(`csvStyle '${settings.csvStyle}' is not CsvStyle.QuoteAlways or CsvStyle.QuoteAfterDelimiter`);
  }
  const encoding = settings?.encoding ?? 'UTF-8';
  if (!UTF8.includes(encoding.toLowerCase())) throw unsupported(`the encoding '${encoding}' is not read, only UTF-8`);
  const headers = settings?.columnHeaders;
  return { headerRow: headers === true || (typeof headers === 'string' && headers.toLowerCase() === 'true'), delimiter };
}

/** A manifest's trait arguments (`[{ name, value }]`) as the settings object model.json would hold. */
export function settingsFromTraitArguments(args: readonly unknown[]): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const arg of args) {
    if (typeof arg === 'object' && arg !== null && typeof (arg as { name?: unknown }).name === 'string') {
      settings[(arg as { name: string }).name] = (arg as { value?: unknown }).value;
    }
  }
  return settings;
}
