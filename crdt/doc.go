// Package crdt is a Yjs-compatible CRDT replica.
package crdt
