package server

// RenderMarkdownForTest exposes the /docs renderer to the external tests.
var RenderMarkdownForTest = renderMarkdown
