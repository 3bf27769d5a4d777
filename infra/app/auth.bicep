// App Service Authentication (Entra ID) in front of every HTTP route. Requests without a valid
// token for the app registration get 401 before they reach a function; the app then reads the
// caller's app roles (Admin, Contributor) from the principal that authentication forwards.
param functionAppName string

@description('Application (client) id of the Entra app registration that defines the Admin and Contributor app roles.')
param entraClientId string

@description('Tenant of the app registration.')
param entraTenantId string = tenant().tenantId

// The only routes that take anonymous requests: the health check reveals nothing but up/down,
// Brevo's import webhook authenticates itself with an unguessable per-import token in its path,
// the API's OpenAPI description is the committed docs/openapi.json (it names no secret), and the
// web app's page and assets hold no data (the page signs the person in when /api/me answers 401).
var anonymousPaths = [
  '/api/health'
  '/api/webhooks/brevo/*'
  '/api/openapi.json'
  '/'
  '/index.html'
  '/assets/*'
]

resource functionApp 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

resource authSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      // An API: answer 401 rather than redirect to a sign-in page.
      unauthenticatedClientAction: 'Return401'
      excludedPaths: anonymousPaths
    }
    httpSettings: {
      requireHttps: true
      routes: {
        apiPrefix: '/.auth'
      }
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${entraClientId}'
            entraClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}
