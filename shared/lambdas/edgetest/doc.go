// Package edgetest holds tests that build the functions from their
// environment (shared/lambdas/<name>fn), as Lambda does, against moto and
// the vendor sandboxes: what only shows when the functions' wiring, the
// SQS and HTTP edges and the vendor clients work together, such as the
// request budget every function shares (lanes, hand-backs, 429s). It has no
// code of its own.
package edgetest
