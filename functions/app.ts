import { app } from '@azure/functions';
import { startTelemetryFromEnvironment } from '../src/app/telemetry';
import { appServiceAuthProblem } from '../src/api/auth';
import { getConfig } from '../src/config';

// Segment uploads are streamed, never buffered whole.
app.setup({ enableHttpStream: true });

// Metrics and traces to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set.
void startTelemetryFromEnvironment().catch((error: unknown) => console.error('telemetry did not start', error instanceof Error ? error.message : String(error)));
// Said once at start-up; every authorized route then answers 503 `authentication_off`.
app.hook.appStart(() => {
  let problem: string | undefined;
  try {
    problem = appServiceAuthProblem(getConfig());
  } catch {
    // Invalid settings are reported by the first function that reads them.
  }
  if (problem) console.error(problem);
});

export { app };
