import { authService } from '@livehouse/auth';
import { bffService } from '@livehouse/bff';
import { chatService } from '@livehouse/chat';
import { contentsService } from '@livehouse/contents';
import { edgeService } from '@livehouse/edge';
import { ingestService } from '@livehouse/ingest';
import type { AnyServiceDefinition } from '@livehouse/kit';
import { paymentService } from '@livehouse/payment';
import { pointService } from '@livehouse/point';
import { stampService } from '@livehouse/stamp';
import { thumbnailService } from '@livehouse/thumbnail';
import { timelineService } from '@livehouse/timeline';
import { userService } from '@livehouse/user';
import { webService } from '@livehouse/web';

/** Every service of the platform, and the loopback ports `livehouse up` gives each (API, admin). */
export const services: Record<string, { definition: AnyServiceDefinition; port: number; adminPort: number }> = {
  auth: { definition: authService, port: 7001, adminPort: 9001 },
  user: { definition: userService, port: 7002, adminPort: 9002 },
  point: { definition: pointService, port: 7005, adminPort: 9005 },
  contents: { definition: contentsService, port: 7003, adminPort: 9003 },
  stamp: { definition: stampService, port: 7004, adminPort: 9004 },
  timeline: { definition: timelineService, port: 7006, adminPort: 9006 },
  chat: { definition: chatService, port: 7007, adminPort: 9007 },
  thumbnail: { definition: thumbnailService, port: 7008, adminPort: 9008 },
  // Media plane: RTMP on 1935 (ingest.rtmp.port), HLS for players on the edge.
  ingest: { definition: ingestService, port: 7009, adminPort: 9009 },
  edge: { definition: edgeService, port: 8081, adminPort: 9081 },
  payment: { definition: paymentService, port: 7010, adminPort: 9010 },
  bff: { definition: bffService, port: 8080, adminPort: 9080 },
  web: { definition: webService, port: 3000, adminPort: 9030 },
};
