import { BatchDeleteHandler } from './batch-delete.handler';
import { BatchHandler } from './batch.handler';
import { CloneHandler } from './clone.handler';
import { CreateHandler } from './create.handler';
import { DeleteHandler } from './delete.handler';
import { EvacuateHandler } from './evacuate.handler';
import { MigrateHandler } from './migrate.handler';
import { RecoverHandler } from './recover.handler';
import { RestartHandler } from './restart.handler';
import { ResizeHandler } from './resize.handler';
import { RestoreHandler } from './restore.handler';
import { ResumeHandler } from './resume.handler';
import { SnapshotDeleteHandler } from './snapshot-delete.handler';
import { SnapshotHandler } from './snapshot.handler';
import { StartHandler } from './start.handler';
import { StopHandler } from './stop.handler';
import { SuspendHandler } from './suspend.handler';

/**
 * Every operation handler, one per kind. A new kind is one file in this folder (a class
 * implementing OperationHandler, usually by extending InstanceOperationHandler) plus one line
 * here; the registry refuses to boot if a kind of HANDLED_KINDS has no handler or two.
 */
export const OPERATION_HANDLER_TYPES = [
  CreateHandler,
  DeleteHandler,
  StartHandler,
  StopHandler,
  RestartHandler,
  SuspendHandler,
  ResumeHandler,
  SnapshotHandler,
  RestoreHandler,
  SnapshotDeleteHandler,
  CloneHandler,
  ResizeHandler,
  RecoverHandler,
  MigrateHandler,
  EvacuateHandler,
  BatchHandler,
  BatchDeleteHandler,
] as const;
