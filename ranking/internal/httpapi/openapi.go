package httpapi

import (
	_ "embed"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the hand-written OpenAPI 3.0 document of every route the
// service serves; TestOpenAPI validates each route's requests and responses
// against it, so it cannot drift from the code unnoticed.
//
//go:embed openapi.json
var OpenAPI []byte

// RegisterOpenAPI serves OpenAPI on /openapi.json.
func RegisterOpenAPI(r gin.IRouter) {
	r.GET("/openapi.json", func(c *gin.Context) {
		c.Data(200, "application/json; charset=utf-8", OpenAPI)
	})
}
