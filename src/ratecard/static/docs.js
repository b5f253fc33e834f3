// The /docs page: Swagger UI over this instance's own /openapi.json, from the package's files
// (no CDN: the page works offline and under the CSP, which allows no inline script).
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    // Only this instance: no validator badge calling out to swagger.io.
    validatorUrl: null,
  });
});
