import { app } from '@azure/functions';

// Segment uploads are streamed, never buffered whole.
app.setup({ enableHttpStream: true });

export { app };
