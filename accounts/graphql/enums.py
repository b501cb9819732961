import strawberry

from accounts import models

RoleEnum = strawberry.enum(models.Role, name="Role")
TokenScopeEnum = strawberry.enum(models.TokenScope, name="TokenScope")
