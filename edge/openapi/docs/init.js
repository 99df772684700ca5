// Starts Swagger UI on the edge's own OpenAPI document. A file, not an inline script, so the
// page runs under a Content-Security-Policy without 'unsafe-inline'.
SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Keeps the bearer token across reloads while trying the API out.
  persistAuthorization: true,
  // The default validator badge would send the document to an outside service.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
