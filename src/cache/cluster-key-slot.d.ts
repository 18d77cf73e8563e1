// The one function of cluster-key-slot (ioredis's own slot hash) the cluster tier uses; the package ships no types.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0–16383) of a key, hash tags included. */
  export default function calculateSlot(key: string | Buffer): number;
}
