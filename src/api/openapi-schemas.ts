// The named schemas of the OpenAPI description (`components.schemas`), each a zod schema of
// src/domain: answers are described as the app writes them, bodies as the app reads them.
import { z } from 'zod';
import { connectionListSchema, createConnectionBodySchema, publicConnectionSchema, updateConnectionBodySchema } from '../domain/connection';
import { errorBodySchema } from '../domain/envelope';
import { createExportBodySchema, exportCreatedSchema, exportListSchema, exportResourceSchema, updateExportBodySchema } from '../domain/export';
import { auditEntrySchema, auditListSchema } from '../domain/audit';
import { notificationTestResultSchema } from '../domain/notification';
import { createErasureBodySchema, erasureAcceptedSchema, erasureResourceSchema } from '../domain/privacy';
import { healthReportSchema } from '../domain/health';
import { meSchema } from '../domain/session';
import { refreshResultSchema, rejectListSchema, rejectRowSchema, runListSchema, runResourceSchema, runStartedSchema } from '../domain/run';
import { segmentListSchema, segmentSchema, segmentUploadResultSchema } from '../domain/segment';
import { createSourceBodySchema, sourceListSchema, sourceResourceSchema, sourceScanQueuedSchema, updateSourceBodySchema } from '../domain/source';

/** This document's own shape, loosely: its validators are the OpenAPI tools. */
const openApiDocumentSchema = z
  .looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) })
  .describe('An OpenAPI 3.1 document');

export const RESPONSE_SCHEMAS = {
  ErrorBody: errorBodySchema,
  HealthReport: healthReportSchema,
  Me: meSchema,
  PublicConnection: publicConnectionSchema,
  ConnectionList: connectionListSchema,
  Segment: segmentSchema,
  SegmentList: segmentListSchema,
  SegmentUploadResult: segmentUploadResultSchema,
  ExportResource: exportResourceSchema,
  ExportList: exportListSchema,
  ExportCreated: exportCreatedSchema,
  NotificationTestResult: notificationTestResultSchema,
  AuditEntry: auditEntrySchema,
  AuditList: auditListSchema,
  ErasureAccepted: erasureAcceptedSchema,
  ErasureResource: erasureResourceSchema,
  RunResource: runResourceSchema,
  RunList: runListSchema,
  RunStarted: runStartedSchema,
  RejectRow: rejectRowSchema,
  RejectList: rejectListSchema,
  RefreshResult: refreshResultSchema,
  SourceResource: sourceResourceSchema,
  SourceList: sourceListSchema,
  SourceScanQueued: sourceScanQueuedSchema,
  OpenApiDocument: openApiDocumentSchema,
} as const satisfies Record<string, z.ZodType>;
export type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS;

export const REQUEST_SCHEMAS = {
  CreateConnectionBody: createConnectionBodySchema,
  UpdateConnectionBody: updateConnectionBodySchema,
  CreateExportBody: createExportBodySchema,
  UpdateExportBody: updateExportBodySchema,
  CreateErasureBody: createErasureBodySchema,
  CreateSourceBody: createSourceBodySchema,
  UpdateSourceBody: updateSourceBodySchema,
} as const satisfies Record<string, z.ZodType>;
export type RequestSchemaName = keyof typeof REQUEST_SCHEMAS;
