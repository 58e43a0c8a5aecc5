package server

// RenderMarkdownForTest exposes the /docs renderer to the external tests.
var RenderMarkdownForTest = renderMarkdown

// EchoForTest is the router inside the handler, for tests that list routes.
func EchoForTest(s *Server) any { return s.echo }
