// The one user-assigned managed identity the archiver runs as: storage (data roles),
// Key Vault (the feed token), Application Insights (Entra-authenticated ingestion) and
// Microsoft Graph (application permissions granted after deployment, see infra/graph-access/).

@description('Azure region.')
param location string

@description('Name of the user-assigned managed identity.')
param name string

@description('Tags for every resource.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
