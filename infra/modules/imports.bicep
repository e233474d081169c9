// Chat-export imports: a file dropped in the `imports` container runs the import_export Function.
//
// Flex Consumption supports only the Event Grid based blob trigger (source=EventGrid in
// function_app.py). Blob events reach the Functions host's blobs extension through an Event
// Grid system topic on the storage account and a webhook subscription whose URL carries the
// host's `blobs_extension` system key. That key exists only once the code is published, so the
// subscription is created on a second deployment (`subscribe` = true; see main.bicep).

@description('Location of the system topic (the storage account\'s).')
param location string

@description('The storage account holding the imports container.')
param storageAccountName string

@description('The Function App running import_export.')
param functionAppName string

@description('Create the webhook subscription (needs the published code\'s blobs_extension key).')
param subscribe bool = false

@description('The blob-triggered Function (its Python name).')
param functionName string = 'import_export'

@description('The container watched (shared/names.py IMPORTS).')
param containerName string = 'imports'

param tags object = {}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'evgt-${storageAccountName}'
  location: location
  tags: tags
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Endpoint: Learn, "Tutorial: Trigger Azure Functions on blob containers using an event subscription"
// (https://{app host}/runtime/webhooks/blobs?functionName=Host.Functions.{function}&code={blobs_extension
// key}); the key is the host's system key, read with listKeys on Microsoft.Web/sites/host 'default'.
// StringNotEndsWith is an Event Grid advanced filter operator (AdvancedFilterOperatorType).
resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribe) {
  parent: topic
  name: 'imports-to-import-export'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        // The blobs extension's webhook; the key is read at deployment time, never stored in source.
        endpointUrl: 'https://${site.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${listKeys('${site.id}/host/default', '2023-12-01').systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/blobs/'
      advancedFilters: [
        {
          // the import writes its report beside the upload: that must not start another import
          operatorType: 'StringNotEndsWith'
          key: 'subject'
          values: [
            '.report.json'
          ]
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output systemTopicName string = topic.name
