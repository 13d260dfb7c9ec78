/**
 * One storage instance as a client sees it (`GET {prefix}/instances`): what it is and how files
 * may be uploaded to it. Shared by the route and the browser client (`storage-svc/client`).
 */
export interface InstanceInfo {
  /** Element name, e.g. `storages.Default`. */
  name: string;
  /** Backend kind: `local`, `s3`, `minio`, `oss`, `azure-blob`, `memory`. */
  kind: string;
  default: boolean;
  public: boolean;
  /** The largest upload the service accepts, bytes. */
  maxUploadSize: number;
  uploads: {
    /** `POST {prefix}/sign` gives a URL the client sends the whole file to (PUT, or a POST form). */
    signed: boolean;
    /** Direct multipart (`POST {prefix}/sign/multipart` and its sub-routes) with these bounds. */
    multipart: { partSize: number; minPartSize: number; maxPartSize: number; maxParts: number } | null;
    /** The tus endpoint (`{prefix}/tus`) takes uploads for this instance. */
    tus: boolean;
  };
}
