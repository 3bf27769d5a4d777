import { getAppContext } from '../src/app/context';
import { defineTimer } from '../src/app/definitions';
import { deleteExpiredAudit } from '../src/audit/repository';
import { app } from './app';

/** Daily: deletes the audit entries older than AUDIT_RETENTION_DAYS. */
export const auditCleanup = defineTimer('audit-cleanup', { schedule: '0 41 3 * * *' }, async () => {
  const context = getAppContext();
  const deleted = await deleteExpiredAudit(context);
  context.log.info('audit retention applied', { deleted, retentionDays: context.config.auditRetentionDays });
});

app.timer(auditCleanup.name, auditCleanup.options);
