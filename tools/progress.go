package tools

import "context"

// notifyProgress sends notifications/progress for the request in ctx (MCP
// basic/utilities/progress). It is a variable so that the image tool's
// schedule can be observed in tests without a transport.
var notifyProgress = func(ctx context.Context, progress, total float64, message string) error { return nil }
