import { app } from '@azure/functions';
import { startTelemetryFromEnvironment } from '../src/app/telemetry';

// Segment uploads are streamed, never buffered whole.
app.setup({ enableHttpStream: true });

// Metrics and traces to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set.
void startTelemetryFromEnvironment().catch((error: unknown) => console.error('telemetry did not start', error instanceof Error ? error.message : String(error)));

export { app };
