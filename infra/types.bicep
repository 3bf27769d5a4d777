// Types the templates share, so that the compiler checks what each module is given.

@export()
@description('Resource tags: string values only. azd finds its resources by `azd-env-name` and `azd-service-name`.')
type resourceTags = {
  *: string
}
