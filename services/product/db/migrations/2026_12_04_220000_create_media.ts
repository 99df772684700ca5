// Pictures: uploads (presigned, then confirmed or left to expire) and the images they became,
// with their renditions. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("media_uploads")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("slot", "varchar(20)", (c) => c.notNull())
    .addColumn("owner_id", "char(36)", (c) => c.notNull())
    .addColumn("uploader_id", "varchar(64)", (c) => c.notNull())
    .addColumn("content_type", "varchar(40)", (c) => c.notNull())
    .addColumn("size_bytes", "bigint", (c) => c.notNull())
    .addColumn("alt_text", "varchar(300)", (c) => c.notNull())
    // PENDING (URL handed out) → CONFIRMED (an image) | REJECTED | EXPIRED.
    .addColumn("status", "varchar(12)", (c) => c.notNull())
    .addColumn("image_id", "char(36)")
    .addColumn("expire_time", sql`datetime(6)`, (c) => c.notNull())
    // Whether the uploaded object is known to be gone from storage (the cleanup job's work).
    .addColumn("object_removed", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema
    .createIndex("media_uploads_cleanup")
    .on("media_uploads")
    .columns(["object_removed", "status", "expire_time"])
    .execute();

  await db.schema
    .createTable("images")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("slot", "varchar(20)", (c) => c.notNull())
    .addColumn("owner_id", "char(36)", (c) => c.notNull())
    .addColumn("upload_id", "char(36)", (c) => c.notNull().unique())
    .addColumn("position", "integer", (c) => c.notNull())
    .addColumn("alt_text", "varchar(300)", (c) => c.notNull())
    // PROCESSING → READY | FAILED; DELETED until the cleanup job removed its files.
    .addColumn("status", "varchar(12)", (c) => c.notNull())
    .addColumn("content_type", "varchar(40)", (c) => c.notNull())
    .addColumn("width", "integer", (c) => c.notNull())
    .addColumn("height", "integer", (c) => c.notNull())
    .addColumn("placeholder", "varchar(100)", (c) => c.notNull().defaultTo(""))
    // [{name, file, contentType, width, height, sizeBytes}]; URLs are made at read time.
    .addColumn("renditions", "json", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema.createIndex("images_owner").on("images").columns(["owner_id", "status", "position"]).execute();
  await db.schema.createIndex("images_status").on("images").column("status").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("images").execute();
  await db.schema.dropTable("media_uploads").execute();
}
