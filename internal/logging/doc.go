// Package logging adapts libraries' loggers to log/slog: hashicorp/raft
// and its transports log through an hclog.Logger, which HCLog forwards to
// an injected *slog.Logger.
package logging
