import { describe, expect, it } from 'vitest';
import { METRICS } from '../../src/app/telemetry';
import { Deployment, DEPLOYMENT_INPUTS } from './arm';
import { compiledTemplate } from './compiled';

/** Azure Monitor in the compiled template: the alert on failed runs exists only with an e-mail address; the workbook always. */
const compiled = await compiledTemplate();

const ACTION_GROUPS = 'Microsoft.Insights/actionGroups';
const QUERY_RULES = 'Microsoft.Insights/scheduledQueryRules';
const WORKBOOKS = 'Microsoft.Insights/workbooks';

describe.skipIf(!compiled)('alerts and the workbook', () => {
  const of = (deployment: Deployment, type: string) => deployment.allResources().filter((resource) => resource.type === type && !resource.existing);

  it('without alertEmail deploys no alert rule and no action group, but the workbook', () => {
    const main = Deployment.entry(compiled!.json);
    expect(of(main, ACTION_GROUPS)).toEqual([]);
    expect(of(main, QUERY_RULES)).toEqual([]);
    expect(of(main, WORKBOOKS)).toHaveLength(1);
  });

  it('with alertEmail e-mails it when a run ends failed or partially succeeded', () => {
    const main = Deployment.entry(compiled!.json, { ...DEPLOYMENT_INPUTS, alertEmail: 'ops@example.com' });
    const [group] = of(main, ACTION_GROUPS);
    expect(JSON.stringify(group!.body)).toContain('ops@example.com');
    const [rule] = of(main, QUERY_RULES);
    const text = JSON.stringify(rule!.body);
    expect(text).toContain(METRICS.runsEnded);
    expect(text).toContain('failed');
    expect(text).toContain('partially_succeeded');
    expect(text).toContain(group!.id);
  });

  it('charts every metric the app records', () => {
    const main = Deployment.entry(compiled!.json);
    const workbook = JSON.stringify(of(main, WORKBOOKS)[0]!.body);
    for (const name of Object.values(METRICS)) {
      const shown = workbook.includes(name) || (name.startsWith('segment_export.records.') && workbook.includes('segment_export.records.'));
      expect(shown, name).toBe(true);
    }
  });
});
