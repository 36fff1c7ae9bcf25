import { Schema, model, type InferSchemaType } from 'mongoose';

// Uploaded media (api/routes/media.ts), kept in the database so nothing else needs running: the
// metadata here, the bytes in `media_chunks` — what both FerretDB and MongoDB store without GridFS.
// `_id` = "med_<random hex>"; the metadata is written after every chunk, so a media document
// that exists always has all of its bytes.
const mediaSchema = new Schema(
  {
    _id: { type: String, required: true },
    tenantId: { type: Schema.Types.ObjectId, ref: 'Tenant', required: true },
    name: { type: String, required: true },
    mimeType: { type: String, required: true },
    size: { type: Number, required: true },
    sha256: { type: String, required: true },
    chunks: { type: Number, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// One slice of a file's bytes. `_id` = "<mediaId>:<index, 4 digits>": a file's chunks are one range
// of the primary key (the only index FerretDB reads by), in order.
const mediaChunkSchema = new Schema(
  {
    _id: { type: String, required: true },
    data: { type: Buffer, required: true },
  },
  { versionKey: false },
);

/** Bytes per chunk: well under the 16 MB document limit, and small batches on the wire. */
export const MEDIA_CHUNK_BYTES = 1024 * 1024;

export const mediaChunkId = (mediaId: string, index: number) => `${mediaId}:${String(index).padStart(4, '0')}`;
/** The `_id` range holding every chunk of `mediaId` (":" sorts just before ";"). */
export const mediaChunkRange = (mediaId: string) => ({ $gte: `${mediaId}:`, $lt: `${mediaId};` });

export type Media = InferSchemaType<typeof mediaSchema>;
export const MediaModel = model('Media', mediaSchema, 'media');
export const MediaChunkModel = model('MediaChunk', mediaChunkSchema, 'media_chunks');
